"""Rhyme readings: which readings of a character count at a rhyme, and the rhyme licences.

Merged characters. Simplification merged traditional characters of different 平水韵
readings into one (台 = 臺 十灰 + 台 四支/十灰; 听 = 聽 九青 + 听 十二文). The rhyme table
lists the merged character under every group of every source, so 台 'terrace' would rhyme
in 四支, a rhyme no Tang poet made. ``merged.json`` (``scripts/build_merged.py``) holds, for
each merged character with such a minor reading, the groups of its dominant source: the
traditional character with the most line ends in the complete Tang poems (where rhymes
fall; ties go to the most occurrences). At a rhyme position only those groups count for
writing; the checker accepts a rhyme on a minor reading with a note, since the reading is
real (徵 rhymes in 十蒸 under 征) but rare.

Neighbouring groups (邻韵). Regulated verse rhymes in one group, but the first line, whose
rhyme is optional, may end in a level-tone character of a neighbouring group (首句借邻韵).
``NEIGHBOURS`` follows 王力《汉语诗律学》 (1958, §首句用邻韵) as usually taught: groups
whose sounds were close in Tang and Song pronunciation. 十三元 is the debated one: its 魂痕
part sounds with 真 文 and its 元 part with 寒 删 先; Wang Li lets it borrow both ways,
and so does this table. 五歌 六麻 十一尤 十二侵 have no neighbours here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

MERGED = Path(__file__).with_name("merged.json")

NEIGHBOUR_SETS = (
    ("一东", "二冬"),
    ("三江", "七阳"),
    ("四支", "五微", "八齐"),
    ("六鱼", "七虞"),
    ("九佳", "十灰"),
    ("十一真", "十二文", "十三元"),
    ("十三元", "十四寒", "十五删", "一先"),
    ("二萧", "三肴", "四豪"),
    ("八庚", "九青", "十蒸"),
    ("十三覃", "十四盐", "十五咸"),
)


def _neighbours(families: tuple[tuple[str, ...], ...]) -> dict[str, tuple[str, ...]]:
    """Group -> its neighbours: every other group of each family it belongs to."""
    out: dict[str, list[str]] = {}
    for family in families:
        for group in family:
            known = out.setdefault(group, [])
            known += [g for g in family if g != group and g not in known]
    return {group: tuple(others) for group, others in out.items()}


NEIGHBOURS = _neighbours(NEIGHBOUR_SETS)


@dataclass(frozen=True)
class MinorReading:
    """A merged character's reading in ``group`` through a minor traditional source."""

    char: str  # the simplified character, e.g. 台
    trad: str  # the traditional source that has the group, e.g. 台
    group: str
    line_ends: int  # the source's line ends in the Tang poems
    dominant: str  # the dominant source, e.g. 臺
    dominant_line_ends: int

    def note(self) -> str:
        return (f"rare reading: '{self.char}' rhymes in {self.group} only as {self.trad} "
                f"({self.line_ends} line ends in the Tang poems; as {self.dominant}, "
                f"{self.dominant_line_ends}, it does not)")


class MergedReadings:
    """The dominant and minor readings of the merged characters (see the module docstring)."""

    def __init__(self, chars: dict[str, dict]):
        self.chars = chars  # char -> {"dominant": {...}, "minor": [{...}, ...]}

    @classmethod
    def load(cls, path: Path = MERGED) -> MergedReadings:
        return cls(json.loads(path.read_text(encoding="utf-8"))["chars"])

    def rhyme_groups(self, char: str, groups: tuple[str, ...]) -> tuple[str, ...]:
        """Of a character's ``groups``, those it rhymes in by its dominant source."""
        entry = self.chars.get(char)
        if entry is None:
            return groups
        return tuple(g for g in groups if g in entry["dominant"]["groups"])

    def minor(self, char: str, group: str) -> MinorReading | None:
        """The minor source through which ``char`` rhymes in ``group``, if that is the only way."""
        entry = self.chars.get(char)
        if entry is None or group in entry["dominant"]["groups"]:
            return None
        for source in entry["minor"]:
            if group in source["groups"]:
                dominant = entry["dominant"]
                return MinorReading(char, source["trad"], group, source["line_end_count"],
                                    dominant["trad"], dominant["line_end_count"])
        return None
