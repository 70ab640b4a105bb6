"""平水韵 lookup: each character's level (平) or oblique (仄) tone and its rhyme groups.

The table ships in the package (``pingshui.json``, built by ``scripts/build_pingshui.py``).
A character with several readings is in several groups and may count as either tone.
A character the table lacks is looked up in this order:

1. ``variants.json`` (``scripts/build_variants.py``): a variant or old form the poems use
   (簷, 疎, 刦) read as the form the table holds (檐, 疏, 劫); the reading's source says so.
2. ``supplement.json`` (``scripts/build_supplement.py``): the 平水韵 groups of characters the
   table lacks (啼 八齐, 迹 十一陌), derived from the 廣韻; for the character itself, else
   for its variant form (慙 -> 惭). A supplemented character that merges traditional ones
   of different groups rhymes only in the groups all of them have.
3. ``pypinyin``, for the oblique tone only: a modern third or fourth tone is read 仄, since
   the old level tone (平) became the modern first and second tones, and the entering tone
   (入声), also 仄, went to all four; the exceptions (a few 平 characters now in tone 4)
   are common characters, which the table holds. A modern first or second tone may hide an
   entering tone (皙 xī was 入声), so such a character's tone is unknown: mark ``?``.

Rhyme readings (``readings.py``): at a rhyme position a simplified character that merges
traditional ones (台 = 臺 + 台) counts only in the groups of its dominant source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .readings import MergedReadings

PING, ZE = "平", "仄"
TABLE = Path(__file__).with_name("pingshui.json")
VARIANTS = Path(__file__).with_name("variants.json")
SUPPLEMENT = Path(__file__).with_name("supplement.json")


@dataclass(frozen=True)
class RhymeGroup:
    name: str  # e.g. 一东
    tone: str  # 平 上 去 入
    pingze: str  # 平 or 仄
    chars: str


@dataclass(frozen=True)
class Reading:
    """What the prosody data says of one character."""

    char: str
    tones: frozenset[str]  # subset of {平, 仄}; empty when nothing is known
    groups: tuple[str, ...]  # rhyme groups holding the character (table only)
    source: str  # "pingshui", "variant:檐" (read as 檐), "supplement", "supplement:惭" (its
    # variant form's supplement), "pypinyin" (仄 only) or "unknown"
    rhyme_groups: tuple[str, ...] = ()  # the groups it rhymes in by its dominant readings

    @property
    def mark(self) -> str:
        """平, 仄, 中 (either), or ? (unknown)."""
        if len(self.tones) == 2:
            return "中"
        return next(iter(self.tones)) if self.tones else "?"


class Prosody:
    """The rhyme table with a per-character index, the variant forms that read as table
    characters, the merged characters' dominant readings, and the supplement."""

    def __init__(self, groups: list[RhymeGroup], variants: dict[str, str] | None = None,
                 merged: MergedReadings | None = None, supplement: dict | None = None):
        self.groups = {g.name: g for g in groups}
        self.variants = variants or {}  # character -> the form(s) the table holds it as
        self.merged = merged or MergedReadings({})
        # {"chars": char -> groups, "merged": char -> {"rhyme_groups": [...], ...}}
        self.supplement = supplement or {"chars": {}, "merged": {}}
        self._groups_of: dict[str, list[str]] = {}
        self._readings: dict[str, Reading] = {}
        for group in groups:
            for char in group.chars:
                self._groups_of.setdefault(char, []).append(group.name)

    @classmethod
    def load(cls, path: Path = TABLE, variants: Path = VARIANTS,
             supplement: Path = SUPPLEMENT) -> Prosody:
        data = json.loads(path.read_text(encoding="utf-8"))
        forms = json.loads(variants.read_text(encoding="utf-8"))["variants"]
        extra = json.loads(supplement.read_text(encoding="utf-8"))
        return cls([RhymeGroup(g["name"], g["tone"], g["pingze"], g["chars"])
                    for g in data["groups"]], forms, MergedReadings.load(), extra)

    def level_groups(self) -> list[str]:
        """The 30 level-tone (平声) groups, in table order: the rhymes of regulated verse."""
        return [name for name, g in self.groups.items() if g.pingze == PING]

    def groups_of(self, char: str) -> tuple[str, ...]:
        """The groups of every reading of ``char`` (through its variant form if need be)."""
        return self.read(char).groups

    def read(self, char: str) -> Reading:
        """The table's reading of ``char``, else its variant's, else the supplement's, else
        仄 or unknown (see the module docstring)."""
        reading = self._readings.get(char)
        if reading is None:
            forms, source = char, "pingshui"
            if char not in self._groups_of and char in self.variants:
                forms = self.variants[char]
                source = f"variant:{forms}"
            groups = tuple(dict.fromkeys(g for form in forms for g in self._groups_of.get(form, ())))
            if groups:
                tones = frozenset(self.groups[g].pingze for g in groups)
                reading = Reading(char, tones, groups, source,
                                  self.merged.rhyme_groups(char, groups))
            elif (form := next((f for f in (char, *forms) if f in self.supplement["chars"]),
                               None)) is not None:
                groups = tuple(self.supplement["chars"][form])
                merged = self.supplement["merged"].get(form)
                reading = Reading(char, frozenset(self.groups[g].pingze for g in groups), groups,
                                  "supplement" if form == char else f"supplement:{form}",
                                  tuple(merged["rhyme_groups"]) if merged else groups)
            else:
                tones = _modern_oblique(forms[0])
                reading = Reading(char, tones, (), "pypinyin" if tones else "unknown")
            self._readings[char] = reading
        return reading

    def can_be(self, char: str, tone: str) -> bool:
        """True when ``char`` has a reading of ``tone`` (平 or 仄)."""
        return tone in self.read(char).tones

    def rhymes_in(self, char: str, group: str, dominant: bool = False) -> bool:
        """True when ``char`` has a reading in ``group``; with ``dominant``, a reading of
        its dominant source (what a rhyme position wants)."""
        reading = self.read(char)
        return group in (reading.rhyme_groups if dominant else reading.groups)


MODERN = Path(__file__).with_name("modern.json")


@lru_cache(maxsize=1)
def _modern_table() -> tuple[list[tuple[int, int]], frozenset[str]]:
    """``modern.json`` (``scripts/build_modern.py``): the blocks it covers and the characters
    pypinyin reads only in tones 3 and 4 there."""
    data = json.loads(MODERN.read_text(encoding="utf-8"))
    return [tuple(r) for r in data["ranges"]], frozenset(data["oblique"])


def _modern_oblique(char: str) -> frozenset[str]:
    """{仄} when every modern reading of ``char`` is in tone 3 or 4; else nothing is known
    (a tone 1 or 2 reading may be 平 or an old entering tone). Precomputed for the Han
    blocks; pypinyin (slow to import) answers for the rest."""
    ranges, oblique = _modern_table()
    if any(first <= ord(char[0]) <= last for first, last in ranges):
        return frozenset({ZE}) if char in oblique else frozenset()
    from pypinyin import Style, pinyin

    readings = pinyin(char, style=Style.TONE3, heteronym=True, errors="ignore")
    digits = {syllable[-1] for syllable in readings[0]} if readings else set()
    return frozenset({ZE}) if digits and digits <= set("34") else frozenset()


@lru_cache(maxsize=1)
def default_prosody() -> Prosody:
    """The bundled 平水韵 table, loaded once."""
    return Prosody.load()
