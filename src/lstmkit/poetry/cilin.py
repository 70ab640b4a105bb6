"""词林正韵 lookup: the 19 rhyme parts (部) ci are judged by, and each character's parts.

A part merges several 平水韵 groups (第一部 = 一东 二冬 and their 上去 groups), so ci rhyme
more broadly than shi. Each part holds characters of a tone class: 平 (level) and 仄 (上去,
oblique) in parts 1-14, 入 (entering) alone in parts 15-19. A character with several
readings sits in several parts or classes. The table ships in the package (``cilin.json``,
built by ``scripts/build_cilin.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LEVEL, OBLIQUE, ENTERING = "平", "仄", "入"
CLASSES = (LEVEL, OBLIQUE, ENTERING)
TABLE = Path(__file__).with_name("cilin.json")


@dataclass(frozen=True)
class RhymePart:
    name: str  # 第一部 ... 第十九部
    chars: dict[str, str]  # class (平 仄 入) -> its characters


class Cilin:
    """The 词林正韵 table with a per-character index."""

    def __init__(self, parts: list[RhymePart]):
        self.parts = {p.name: p for p in parts}
        self._homes: dict[str, list[tuple[str, str]]] = {}
        for part in parts:
            for cls, chars in part.chars.items():
                for char in chars:
                    self._homes.setdefault(char, []).append((part.name, cls))

    @classmethod
    def load(cls, path: Path = TABLE) -> Cilin:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls([RhymePart(p["name"], {c: p[c] for c in CLASSES if c in p})
                    for p in data["parts"]])

    def homes(self, char: str) -> tuple[tuple[str, str], ...]:
        """The (part, class) pairs holding ``char``: ((第七部, 仄),) for 片; () if unlisted."""
        return tuple(self._homes.get(char, ()))

    def parts_with(self, classes: str) -> list[str]:
        """The parts, in order, that have characters of every class in ``classes``."""
        return [name for name, p in self.parts.items() if all(c in p.chars for c in classes)]


@lru_cache(maxsize=1)
def default_cilin() -> Cilin:
    """The bundled 词林正韵 table, loaded once."""
    return Cilin.load()
