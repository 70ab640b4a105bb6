"""平水韵 lookup: each character's level (平) or oblique (仄) tone and its rhyme groups.

The table ships in the package (``pingshui.json``, built by ``scripts/build_pingshui.py``).
A character with several readings is in several groups and may count as either tone.
Characters the table lacks fall back to ``pypinyin``: modern tones 1 and 2 count as 平,
3 and 4 as 仄. That fallback is approximate: modern Mandarin lost the entering tone (入声),
so some old 仄 characters read as 平 today.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PING, ZE = "平", "仄"
TABLE = Path(__file__).with_name("pingshui.json")


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
    source: str  # "pingshui", "pypinyin" or "unknown"

    @property
    def mark(self) -> str:
        """平, 仄, 中 (either), or ? (unknown)."""
        if len(self.tones) == 2:
            return "中"
        return next(iter(self.tones)) if self.tones else "?"


class Prosody:
    """The rhyme table with a per-character index."""

    def __init__(self, groups: list[RhymeGroup]):
        self.groups = {g.name: g for g in groups}
        self._groups_of: dict[str, list[str]] = {}
        self._readings: dict[str, Reading] = {}
        for group in groups:
            for char in group.chars:
                self._groups_of.setdefault(char, []).append(group.name)

    @classmethod
    def load(cls, path: Path = TABLE) -> Prosody:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls([RhymeGroup(g["name"], g["tone"], g["pingze"], g["chars"])
                    for g in data["groups"]])

    def level_groups(self) -> list[str]:
        """The 30 level-tone (平声) groups, in table order: the rhymes of regulated verse."""
        return [name for name, g in self.groups.items() if g.pingze == PING]

    def groups_of(self, char: str) -> tuple[str, ...]:
        return tuple(self._groups_of.get(char, ()))

    def read(self, char: str) -> Reading:
        reading = self._readings.get(char)
        if reading is None:
            groups = self.groups_of(char)
            if groups:
                tones = frozenset(self.groups[g].pingze for g in groups)
                reading = Reading(char, tones, groups, "pingshui")
            else:
                tones = _modern_tones(char)
                reading = Reading(char, tones, (), "pypinyin" if tones else "unknown")
            self._readings[char] = reading
        return reading

    def can_be(self, char: str, tone: str) -> bool:
        """True when ``char`` has a reading of ``tone`` (平 or 仄)."""
        return tone in self.read(char).tones

    def rhymes_in(self, char: str, group: str) -> bool:
        return group in self._groups_of.get(char, ())


def _modern_tones(char: str) -> frozenset[str]:
    from pypinyin import Style, pinyin

    readings = pinyin(char, style=Style.TONE3, heteronym=True, errors="ignore")
    tones = set()
    for syllable in readings[0] if readings else []:
        digit = syllable[-1]
        if digit in "12":
            tones.add(PING)
        elif digit in "34":
            tones.add(ZE)
    return frozenset(tones)


@lru_cache(maxsize=1)
def default_prosody() -> Prosody:
    """The bundled 平水韵 table, loaded once."""
    return Prosody.load()
